"""Decide a TOTP verification with the engine module, from a stream stored as
JSON (here: the given events of the vector verify/totp).

    python3 examples/verify.py        (from hosts/python, after `just wasm`)
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "hosts" / "python" / "src"))  # or: pip install hosts/python

from vakt_engine import Engine, VaktError  # noqa: E402

vector = json.loads((ROOT / "testdata/vectors/verify/totp.json").read_text())

with Engine.load(ROOT / "wasm/build/vakt.wasm") as engine:
    decision = engine.decide(
        tenant="uio.no",
        user="ola.nordmann",
        data_key=vector["data_key"],  # the user's data key opens the sealed TOTP seed
        given=vector["given"],  # the user's stream, oldest first
        time="2026-11-23T09:00:30Z",  # the engine never reads a clock...
        entropy=vector["when"]["entropy"],  # ...or a random source: both travel in the request
        command=vector["when"]["command"],  # {"verify_code": {"challenge_id": ..., "code": ...}}
    )
    if decision.error:
        print("refused:", decision.error.code, "-", decision.error.message)
    for event in decision.events:
        print("event:", event["type"])
    print("reply:", json.dumps(decision.reply))

    try:
        engine.call({"op": "no_such_op"})
    except VaktError as e:
        print("typed error:", e.code)
