// The encoders the package knows by name: 'english' (all-MiniLM-L6-v2, the default) and
// 'multilingual' (multilingual-e5-small, vocabulary pruned to Chinese and Latin-script
// languages). A name resolves to the model and tokenizer files under `modelBase` (default: the
// package's own models/ folder) with the sha256 pins of the package's manifests, so bytes
// served from anywhere are checked against what this version of the package was built with.

const NAMED = {
  english: { dir: 'all-MiniLM-L6-v2', manifest: 'manifest.json' },
  multilingual: { dir: 'multilingual-e5-small', manifest: 'manifest.multilingual.json' },
};

export const MODEL_NAMES = Object.keys(NAMED);

export function isModelName(model) {
  return model === undefined || (typeof model === 'string' && Object.hasOwn(NAMED, model));
}

/**
 * `options.model` a name (or absent: 'english') -> `{ model, tokenizer, integrity, modelName }`
 * URLs and pins; anything else is returned as given (URLs or bytes, the caller's pins).
 */
export async function resolveModel(options) {
  if (!isModelName(options.model)) return options;
  const name = options.model ?? 'english';
  const { dir, manifest } = NAMED[name];
  const pins = await (await fetch(new URL(`../models/${manifest}`, import.meta.url))).json();
  const pin = (file) => pins.converted?.[file]?.sha256 ?? pins.source?.files?.[file]?.sha256;
  const base = new URL(options.modelBase ?? '../models/', options.modelBase ? globalThis.location?.href : import.meta.url);
  const folder = new URL(`${dir}/`, base);
  return {
    ...options,
    modelName: name,
    model: new URL('model.int8.bpk', folder).href,
    tokenizer: new URL('tokenizer.json', folder).href,
    integrity: { model: pin('model.int8.bpk'), tokenizer: pin('tokenizer.json'), ...options.integrity },
  };
}
