// A stand-in for the site's backend, running in the page: it knows the catalogue and public,
// aggregate behaviour of many (simulated) shoppers: popularity, and which item tends to come
// right before which. It never sees this user's history; it sends candidates, scores,
// `related` lists and each item's compact embedding (made at build time), as a real server would.

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The text the server sends for an item (and embeds at build time, scripts/demo-embeddings.mjs). */
export function itemText(item) {
  return `${item.title}. ${item.description}`;
}

export class DemoServer {
  /** Compact embeddings by id, and the model sha256 they were made with (none until set). */
  embeddings = null;

  constructor(catalogue) {
    this.items = catalogue;
    this.byId = new Map(catalogue.map((i) => [i.id, i]));
    const random = rng(20261124);
    const byCategory = new Map();
    for (const item of catalogue) {
      if (!byCategory.has(item.category)) byCategory.set(item.category, []);
      byCategory.get(item.category).push(item);
    }
    const categories = [...byCategory.keys()];
    this.popularity = new Map(catalogue.map((i) => [i.id, 1]));
    this.before = new Map(catalogue.map((i) => [i.id, new Map()]));
    const outTotal = new Map(catalogue.map((i) => [i.id, 0]));
    // 3,000 simulated sessions: a shopper stays mostly within one category.
    for (let s = 0; s < 3000; s++) {
      let category = categories[Math.floor(random() ** 1.5 * categories.length)];
      let prev = null;
      const length = 3 + Math.floor(random() * 6);
      for (let k = 0; k < length; k++) {
        if (random() < 0.15) category = categories[Math.floor(random() * categories.length)];
        const pool = byCategory.get(category);
        const item = pool[Math.floor(random() ** 2 * pool.length)];
        this.popularity.set(item.id, this.popularity.get(item.id) + 1);
        if (prev && prev !== item.id) {
          const m = this.before.get(item.id);
          m.set(prev, (m.get(prev) ?? 0) + 1);
          outTotal.set(prev, outTotal.get(prev) + 1);
        }
        prev = item.id;
      }
    }
    this.outTotal = outTotal;
  }

  text(item) {
    return itemText(item);
  }

  /** `{ model, items: { id: compact } }` from the build (dist/demo/embeddings-<model>.json). */
  useEmbeddings(embeddings) {
    this.embeddings = embeddings;
  }

  /** One item as the server sends it. */
  candidate(item) {
    return {
      id: item.id,
      text: this.text(item),
      server_score: Math.log(this.popularity.get(item.id)),
      category: item.category,
      related: [...this.before.get(item.id)]
        .map(([id, n]) => ({ id, weight: n / this.outTotal.get(id) }))
        .sort((a, b) => b.weight - a.weight)
        .slice(0, 5),
      // Like a real server: the item's embedding, made once per catalogue and model.
      ...(this.embeddings?.items[item.id]
        ? { embedding: this.embeddings.items[item.id], model: this.embeddings.model }
        : {}),
    };
  }

  /**
   * Candidates of one kind ("product" or "book"), optionally matching a query: the popular head
   * and, so that an interest the server cannot see (it is private) can find something, the most
   * popular few of every category. The popular head alone (the first 60) left whole categories
   * out, and a stated interest could only find what happened to be popular.
   */
  candidates(kind, { query = null, head = 36, perCategory = 4 } = {}) {
    const q = query?.toLowerCase().split(/\s+/).filter(Boolean) ?? [];
    let pool = this.items.filter((i) => i.kind === kind);
    if (q.length) {
      const hits = pool.filter((i) => q.some((w) => `${i.title} ${i.description} ${i.category}`.toLowerCase().includes(w)));
      if (hits.length) pool = hits;
    }
    const ranked = pool
      .map((item) => this.candidate(item))
      .sort((a, b) => b.server_score - a.server_score);
    const taken = new Set(ranked.slice(0, head).map((c) => c.id));
    const perCategoryTaken = new Map();
    for (const c of ranked.slice(head)) {
      const n = perCategoryTaken.get(c.category) ?? 0;
      if (n < perCategory) {
        taken.add(c.id);
        perCategoryTaken.set(c.category, n + 1);
      }
    }
    // Server order: the popular head first, then the category samples by popularity.
    return ranked.filter((c) => taken.has(c.id));
  }

  /**
   * The server's own log as training lines for `cloister train --lines` (fit-prior's format):
   * `users` more simulated shoppers (their own seed, apart from the popularity sessions), each a
   * session of one kind within mostly one category; from the third item on, each step is a line
   * `{ user, history, candidates, target }`: what the shopper looked at, the candidates the
   * server sent, and the item taken next. Times are 20 minutes apart from `start`.
   */
  trainingLines({ users = 150, seed = 20261201, start = Date.UTC(2026, 0, 5) } = {}) {
    const random = rng(seed);
    const kinds = [...new Set(this.items.map((i) => i.kind))];
    const lines = [];
    for (let u = 0; u < users; u++) {
      const kind = kinds[u % kinds.length];
      const pool = this.items.filter((i) => i.kind === kind);
      const categories = [...new Set(pool.map((i) => i.category))];
      let category = categories[Math.floor(random() * categories.length)];
      const length = 4 + Math.floor(random() * 7);
      const session = [];
      while (session.length < length) {
        if (random() < 0.15) category = categories[Math.floor(random() * categories.length)];
        const inCategory = pool.filter((i) => i.category === category && !session.includes(i));
        if (!inCategory.length) break;
        session.push(inCategory[Math.floor(random() * inCategory.length)]);
      }
      const candidates = this.candidates(kind);
      for (let k = 2; k < session.length; k++) {
        const target = session[k];
        // The item taken is among what was sent (a search may have brought it).
        const shown = candidates.some((c) => c.id === target.id) ? candidates : [...candidates, this.candidate(target)];
        lines.push({
          user: `shopper-${u}`,
          history: session.slice(0, k).map((item, j) => ({
            item: { id: item.id, text: this.text(item), category: item.category },
            kind: j === k - 1 || random() < 0.3 ? 'click' : 'view',
            at: start + (u * 12 + j) * 20 * 60_000,
          })),
          candidates: shown,
          target: target.id,
        });
      }
    }
    return lines;
  }
}
