"""`threadline demo` / `serve --demo`: a ready-to-use org, publisher and running campaign.

``seeding.seed`` makes it through the operator and advertiser services; ``keys_file`` keeps the plain keys;
``banner`` prints what to try; ``content`` is what gets seeded.
"""

from threadline.demo.banner import banner
from threadline.demo.content import DEMO_CAMPAIGN
from threadline.demo.keys_file import KEYS_FILE
from threadline.demo.seeding import DemoInfo, seed

__all__ = ["DEMO_CAMPAIGN", "KEYS_FILE", "DemoInfo", "banner", "seed"]
