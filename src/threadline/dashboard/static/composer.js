// Live counters for the Threads composer, following publishing/rules.py: text length counts an emoji as
// its UTF-8 byte length (max 500), and a post may carry at most 5 unique links (text URLs + link
// attachment). The server applies the same rules on submit; this only shows them while typing.
(function () {
  var URL_RE = /https?:\/\/[^\s<>"']+|www\.[^\s<>"']+/gi;
  var TRAILING = ".,;:!?)]}'\"";
  function isEmoji(cp) {
    return cp >= 0x1F000 || (cp >= 0x2600 && cp <= 0x27BF) || (cp >= 0x2300 && cp <= 0x23FF) ||
      (cp >= 0x2B00 && cp <= 0x2BFF) || [0x200D, 0xFE0F, 0x20E3, 0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139].indexOf(cp) >= 0;
  }
  function utf8len(cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }
  function textLength(s) {
    var n = 0;
    for (var ch of s) { var cp = ch.codePointAt(0); n += isEmoji(cp) ? utf8len(cp) : 1; }
    return n;
  }
  function links(s, extra) {
    var found = [];
    (s.match(URL_RE) || []).forEach(function (u) {
      while (u.length && TRAILING.indexOf(u[u.length - 1]) >= 0) u = u.slice(0, -1);
      if (found.indexOf(u) < 0) found.push(u);
    });
    if (extra && found.indexOf(extra) < 0) found.push(extra);
    return found.length;
  }
  function update() {
    var text = document.getElementById("text"), link = document.getElementById("link_attachment");
    if (!text) return;
    var max = Number(text.dataset.max), maxLinks = Number(text.dataset.maxLinks);
    var n = textLength(text.value), l = links(text.value, link ? link.value.trim() : "");
    var c = document.getElementById("char-count"), lc = document.getElementById("link-count");
    c.textContent = n + " / " + max + " characters"; c.classList.toggle("over", n > max);
    lc.textContent = l + " / " + maxLinks + " links"; lc.classList.toggle("over", l > maxLinks);
  }
  document.addEventListener("input", update);
  document.addEventListener("DOMContentLoaded", update);
})();
