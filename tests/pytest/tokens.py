"""Fake Discord-shaped tokens, built at run time from parts (never a realistic literal in the
source, as ../shared/cases/discord.md asks)."""

import base64
import random
import string

B64URL = string.ascii_letters + string.digits + "-_"


def fake_token(bot_id=None, b_len=6, c_len=38, seed=None):
    rnd = random.Random(seed)
    bot_id = bot_id or rnd.randrange(10**17, 10**18)
    a = base64.b64encode(str(bot_id).encode()).decode().rstrip("=")
    b = "".join(rnd.choice(B64URL) for _ in range(b_len))
    c = "".join(rnd.choice(B64URL) for _ in range(c_len))
    return f"{a}.{b}.{c}", bot_id
