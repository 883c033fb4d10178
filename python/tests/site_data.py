"""A generated site for the engine tests and benchmark: a catalogue of item texts and an
interaction log with sequential structure (users move between neighbouring items) and a few
bad rows of every kind the count reports. Deterministic from a seed; the text is the project's
own word lists."""

import numpy as np

ADJECTIVES = ["waterproof", "quiet", "illustrated", "compact", "vintage", "handmade", "lightweight", "organic",
              "wireless", "pocket", "classic", "modern", "rugged", "slow", "bright", "folding"]
NOUNS = ["trail shoes", "mystery novel", "skillet", "history of the Silk Road", "headphones", "sourdough guide",
         "tent", "garden trowel", "field guide to birds", "espresso grinder", "rain jacket", "cookbook",
         "desk lamp", "atlas", "board game", "watercolour set"]
DETAILS = ["for long weekends", "with a linen cover", "in cast iron", "for beginners", "for small kitchens",
           "with spare parts", "for rainy cities", "in recycled wool", "for night reading", "with a travel case"]


def catalogue(n, seed=7):
    """`n` items `{"id", "text"}`; every 1000th has no text (a bad catalogue row)."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.integers(len(ADJECTIVES), size=n), rng.integers(len(NOUNS), size=n), rng.integers(len(DETAILS), size=n)
    items = []
    for i in range(n):
        text = "" if i % 1000 == 999 else f"{ADJECTIVES[a[i]].capitalize()} {NOUNS[b[i]]} {DETAILS[c[i]]}, model {i}"
        items.append({"id": f"i{i}", "text": text})
    return items


def log(n_rows, n_items, n_users, seed=11):
    """Columns `row, user, item, at` of an interaction log in row order; each user's times rise,
    except the planted bad rows: one in 2,000 goes back in time, and a handful name no user, an
    item outside the catalogue or a negative time."""
    rng = np.random.default_rng(seed)
    user = rng.integers(n_users, size=n_rows)
    # Popular items are popular (Zipf-like), and a user's next item is often near the last one.
    popular = np.minimum(rng.zipf(1.3, size=n_rows) - 1, n_items - 1)
    item = np.empty(n_rows, dtype=np.int64)
    last = np.full(n_users, -1)
    step = rng.integers(-3, 4, size=n_rows)
    near = rng.random(n_rows) < 0.6
    for r in range(n_rows):
        u = user[r]
        item[r] = (last[u] + step[r]) % n_items if near[r] and last[u] >= 0 else popular[r]
        last[u] = item[r]
    at = 1_700_000_000_000 + np.arange(n_rows, dtype=np.int64) * 1000
    back = rng.random(n_rows) < 0.0005
    at[back] -= 5_000_000
    users = np.array([f"u{u}" for u in user], dtype=object)
    items = np.array([f"i{i}" for i in item], dtype=object)
    for k, r in enumerate(rng.choice(n_rows, size=12, replace=False)):
        if k % 3 == 0:
            users[r] = ""
        elif k % 3 == 1:
            items[r] = f"unknown{k}"
        else:
            at[r] = -1
    return {"row": np.arange(n_rows, dtype=np.int64), "user": users, "item": items, "at": at}
