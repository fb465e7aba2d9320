"""Every error code a Threadline surface emits: what it means and what to do (explain_platform_error).

tests/tools/test_explain_platform_error.py scans the source for codes and fails if one is missing here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    code: str
    meaning: str
    action: str
    retryable: bool = False


def _e(code: str, meaning: str, action: str, retryable: bool = False) -> Explanation:
    return Explanation(code, meaning, action, retryable)


CATALOG: dict[str, Explanation] = {
    e.code: e
    for e in (
        # --- authentication and access
        _e("auth_required", "No credentials were sent.", "Send `Authorization: Bearer <key>`."),
        _e(
            "invalid_api_key",
            "The key is unknown, revoked, expired or of the wrong kind.",
            "Check which key the surface takes (ak_ for /v1, sk_live_ for tools) or ask an operator for a new one.",
        ),
        _e(
            "not_authenticated",
            "The tool API got no valid sk_live_ tool key.",
            "Ask an operator to create a tool key (POST /admin/v1/orgs/{org_id}/tool_keys) and send it as a Bearer token.",
        ),
        _e(
            "missing_header",
            "A required header is missing (serving API).",
            "Send the header the error names.",
        ),
        _e(
            "invalid_header",
            "A header has an invalid value (serving API).",
            "Fix the header the error names.",
        ),
        _e(
            "origin_not_allowed",
            "The browser Origin is not in the publisher's allowed origins.",
            "Add the origin to the publisher's allowed_origins.",
        ),
        _e(
            "missing_token",
            "A tracking link lacks its signed token.",
            "Use the tracking URL exactly as served.",
        ),
        _e(
            "invalid_token",
            "A tracking token is forged, altered or expired.",
            "Use the tracking URL exactly as served.",
        ),
        # --- request shape
        _e("invalid_json", "The body is not valid JSON or not a JSON object.", "Send a JSON object body."),
        _e(
            "invalid_value",
            "A parameter has a value outside its rules.",
            "Read the message: it names the parameter and the rule.",
        ),
        _e("missing_param", "A required parameter is missing.", "Add the parameter the message names."),
        _e(
            "unknown_param",
            "A parameter that does not exist was sent (often a typo).",
            "Remove or rename it.",
        ),
        _e(
            "unknown_field",
            "An insights field name is unknown.",
            "Use one of the documented insights fields.",
        ),
        _e("invalid_request", "The request could not be understood.", "Check method, path and body."),
        _e("request_too_large", "The body exceeds the size limit.", "Send less data per request."),
        _e(
            "not_found",
            "The path, or the object it names, does not exist for your organization.",
            "Check the id (ids of other organizations are never visible).",
        ),
        _e(
            "method_not_allowed",
            "That HTTP method is not supported on the path.",
            "Use the documented method.",
        ),
        _e(
            "tool_not_found",
            "No tool has that name.",
            "List the tools with GET /api/v1/tools (or MCP tools/list).",
        ),
        # --- rate limits and idempotency
        _e(
            "rate_limit_exceeded",
            "Too many requests for this key.",
            "Wait for Retry-After seconds, then retry.",
            True,
        ),
        _e(
            "rate_limited",
            "Too many tool calls per minute for this key, or an upstream platform throttled us.",
            "Wait for Retry-After seconds, then retry with the same Idempotency-Key.",
            True,
        ),
        _e(
            "idempotency_key_reused",
            "The Idempotency-Key was used before with different arguments.",
            "Use a new key for a new operation; reuse a key only to retry the same call.",
        ),
        _e(
            "idempotency_request_in_progress",
            "A request with this Idempotency-Key is still running.",
            "Retry after a second with the same key.",
            True,
        ),
        # --- campaigns and billing
        _e(
            "billing_not_configured",
            "The organization has no default card, so the deposit cannot be charged.",
            "Ask an operator to add a payment method.",
        ),
        _e(
            "card_declined",
            "The card was declined for the campaign deposit.",
            "Use another card, then retry.",
        ),
        _e(
            "payment_provider_unavailable",
            "The payment provider could not be reached.",
            "Retry with the same Idempotency-Key; the deposit is never charged twice.",
            True,
        ),
        _e(
            "use_status_action",
            "Status is changed with pause/resume/archive actions, not by update.",
            "Call pause_thrad_campaign or resume_thrad_campaign.",
        ),
        _e(
            "campaign_archived",
            "The campaign is archived and can no longer change.",
            "Create a new campaign.",
        ),
        _e(
            "campaign_not_approved",
            "The campaign has not passed review yet.",
            "Wait for review, then resume it.",
        ),
        _e("campaign_not_running", "The action needs a running campaign.", "Resume the campaign first."),
        _e(
            "poll_cannot_be_ai",
            "Poll ads cannot use AI-generated creative.",
            "Write the poll options yourself.",
        ),
        _e(
            "username_taken",
            "An operator tried to create a Threads profile with a username another profile has.",
            "Choose another username.",
        ),
        # --- media
        _e(
            "invalid_image_url",
            "The image URL is not an absolute public http(s) URL, or points to a private address.",
            "Use a public URL that serves the image directly.",
        ),
        _e(
            "image_fetch_failed",
            "The image URL could not be fetched (HTTP error, timeout, connection failure).",
            "Check the URL opens publicly; retry later.",
            True,
        ),
        _e(
            "unsupported_content",
            "The URL answered with something that is not the expected kind of media (sniffed from its bytes).",
            "Point the URL at the image or video file itself, not a page that shows it.",
        ),
        _e(
            "too_many_redirects", "The image URL redirects; redirects are not followed.", "Use the final URL."
        ),
        _e(
            "file_too_large", "The image exceeds the size limit (5 MB for uploads).", "Compress or resize it."
        ),
        _e("invalid_file", "The bytes are not a valid PNG, JPEG or WEBP image.", "Upload a valid image."),
        _e("unsupported_mimetype", "The image format is not supported.", "Use PNG, JPEG or WEBP."),
        # --- insights
        _e(
            "invalid_time_range",
            "A time range is malformed or ends before it starts.",
            "Use YYYY-MM-DD dates, start <= end.",
        ),
        _e("range_too_wide", "The time range is longer than allowed.", "Ask for at most 366 days."),
        _e(
            "hourly_range_too_wide",
            "Hourly insights cover at most 25 hours.",
            "Use daily granularity or a shorter range.",
        ),
        _e(
            "aggregation_level_too_high",
            "The aggregation level is above the object asked about.",
            "Use a deeper level.",
        ),
        _e("invalid_filter", "An insights filter is malformed.", "Use {field, operator, value}."),
        _e("invalid_filter_operator", "An insights filter operator is unknown.", "Use equals or in."),
        # --- events and serving
        _e(
            "click_not_found",
            "The conversion names a click id we never issued.",
            "Send the click id from the ad's click URL.",
        ),
        _e("duplicate_vote", "This poll was already answered for this impression.", "Nothing to do."),
        _e("invalid_option", "The poll option does not exist.", "Send one of the ad's poll options."),
        _e("service_unavailable", "The event writer is shutting down or overloaded.", "Retry shortly.", True),
        _e(
            "server_error",
            "An unexpected server error (our bug).",
            "Retry; report the request id if it persists.",
            True,
        ),
        # --- tools: accounts and quota
        _e(
            "quota_exhausted",
            "This month's tool-call quota is used up (HTTP 402).",
            "Wait for period_end or upgrade the plan at upgrade_url; quota-free tools still work.",
        ),
        _e(
            "no_account_connected",
            "No account of that platform is connected to the organization.",
            "Ask an operator to connect one (POST /admin/v1/orgs/{org_id}/connections).",
        ),
        _e(
            "no_active_account",
            "Accounts are connected but none is active.",
            "Pass the account selector or call switch_primary_account.",
        ),
        _e(
            "account_selection_required",
            "More than one account of the platform is active.",
            "Pass the selector (advertiser_id, ad_account_id or profile_id) from the list in the message.",
        ),
        _e(
            "account_not_found",
            "The selector names an account that is not connected.",
            "Call list_connected_accounts and copy an id verbatim.",
        ),
        _e(
            "already_published",
            "The Threads container was published by an earlier call.",
            "Call list_threads_posts to find the post; pass container_id only for a container still processing.",
        ),
        _e(
            "media_processing_failed",
            "Threadline could not fetch or process the post's image or video (the message says why).",
            "Fix the media URL (public, JPEG/PNG image or MP4/MOV video within the limits) and publish again.",
        ),
        _e(
            "schedule_not_found",
            "No scheduled Threads post with that schedule_id on the selected profile.",
            "Call list_threads_posts to see the profile's scheduled posts and copy the schedule_id.",
        ),
        _e(
            "schedule_not_cancellable",
            "The scheduled post is already publishing, published, failed or cancelled.",
            "A published post can be removed with delete_threads_post.",
        ),
        _e(
            "account_token_unreadable",
            "The stored access token cannot be decrypted (the server secret changed).",
            "Reconnect the account.",
        ),
        _e(
            "upstream_error",
            "The upstream platform (e.g. TikTok) rejected or failed the request.",
            "Read the platform's message in the error; fix the input or retry later.",
            True,
        ),
        _e(
            "upstream_auth_failed",
            "The upstream platform rejected the stored access token.",
            "Reconnect the account with a fresh access token.",
        ),
        _e(
            "upstream_rate_limited",
            "The upstream platform throttled us.",
            "Wait for Retry-After seconds, then retry.",
            True,
        ),
        # --- dashboard (/app/)
        _e(
            "csrf_failed",
            "A dashboard form was sent without the page's CSRF token (or with a stale one).",
            "Reload the page and submit the form again.",
        ),
        _e(
            "too_many_signins",
            "Too many sign-in attempts for this email or address.",
            "Wait for Retry-After seconds, then sign in again.",
            True,
        ),
        _e("email_taken", "A person with that email already exists.", "Use another email, or sign in."),
        _e(
            "invitation_not_found",
            "The invitation link is unknown, used or expired.",
            "Ask an operator or the org's owner for a new invitation.",
        ),
        _e(
            "threads_error",
            "The publishing API refused a post composed in the dashboard.",
            "Read the message: it is the Threads API's own (length, links, tags, quota).",
        ),
        # --- Threads polls and webhooks
        _e("poll_closed", "The poll's 24 h voting window has ended.", "Votes are no longer counted."),
        _e(
            "verification_failed",
            "The webhook callback did not echo hub.challenge for the verify token.",
            "Make the callback answer the subscribe GET with the challenge when the token matches.",
        ),
        _e(
            "subscription_exists",
            "That app already has a subscription for this callback URL.",
            "Delete the existing subscription first, or reuse it.",
        ),
        _e(
            "app_secret_unavailable",
            "The app was created before secrets were kept for signing, so deliveries cannot be signed.",
            "Create a new app (threadline apps create) and subscribe with it.",
        ),
    )
}


def explain(error: str) -> list[Explanation]:
    """Codes named in ``error`` (a bare code, or a message or JSON body that contains codes)."""
    text = error.strip()
    if text in CATALOG:
        return [CATALOG[text]]
    lowered = text.lower()
    found = [e for code, e in CATALOG.items() if code in lowered]
    # The longest match first: ``rate_limited`` inside ``upstream_rate_limited`` is not a second answer.
    found.sort(key=lambda e: -len(e.code))
    out: list[Explanation] = []
    for e in found:
        if not any(e.code in o.code for o in out):
            out.append(e)
    return out
