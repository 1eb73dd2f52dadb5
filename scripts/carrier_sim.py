#!/usr/bin/env python3
"""Run the carrier simulator standalone (same options as `smsswitch simulate-carrier`).

    .venv/bin/python scripts/carrier_sim.py --port 2776 --id-format decimal --report
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smsswitch.carrier.simulator import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
