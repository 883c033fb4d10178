// Error classes of the package, and the one table from the core's error kinds to them. The wasm
// throws plain `Error`s carrying the core's stable `kind` (crate/src/error.rs); `fromWasm` turns
// them (and errors sent back from the worker) into instances of these classes.

export class CloisterError extends Error {
  /** `fields`: structured details (e.g. `url`, `expected`, `actual`), copied onto the error. */
  constructor(message, kind = 'unknown', fields = {}) {
    super(message);
    this.name = new.target.name;
    this.kind = kind;
    Object.assign(this, fields);
  }
}
/** WebGPU was forced (`backend: 'webgpu'`) but there is no usable adapter. */
export class WebGPUUnavailableError extends CloisterError {}
/**
 * The model or tokenizer could not be fetched whole, or its bytes do not match the pinned
 * sha256. Fields: `url` (where it came from, or 'bytes'), `expected` and `actual` (the sha256s,
 * for kind 'integrity'; byte counts for 'truncated').
 */
export class ModelIntegrityError extends CloisterError {}
/** The model or tokenizer file is corrupt, truncated, or another model. */
export class ModelFormatError extends CloisterError {}
/** Bad input: an empty batch, an unknown option, a malformed event or feedback. */
export class InvalidInputError extends CloisterError {}
/** The compute backend failed (device lost, read-back failed). */
export class BackendError extends CloisterError {}
/** A candidate list the re-ranker cannot take (empty, duplicate ids, non-finite scores...). */
export class InvalidCandidateError extends InvalidInputError {}
/**
 * The interest model file (`cloister train`) is corrupt, of another shape, for another encoder's
 * width, or cannot load in this build. Ranking goes on without the model.
 */
export class InterestModelError extends CloisterError {}
/** Persistent storage failed (quota, corrupt record); the session goes on in memory. */
export class StorageError extends CloisterError {}
/**
 * The browser lacks something every build needs. Field `missing`: what, e.g. 'wasm-simd128'
 * (Safari before 16.4).
 */
export class UnsupportedBrowserError extends CloisterError {}

/** Every error kind the core (and this package) raises, and its class. */
export const ERROR_CLASSES = {
  // EncoderError
  model_format: ModelFormatError,
  model_corrupt: ModelFormatError,
  wrong_model: ModelFormatError,
  tokenizer: ModelFormatError,
  model_write: BackendError,
  empty_batch: InvalidInputError,
  invalid_option: InvalidInputError,
  backend: BackendError,
  webgpu_unavailable: WebGPUUnavailableError,
  // InputError
  invalid_event: InvalidInputError,
  invalid_time: InvalidInputError,
  invalid_item: InvalidInputError,
  unknown_item: InvalidInputError,
  invalid_candidate: InvalidCandidateError,
  duplicate_candidate: InvalidCandidateError,
  empty_candidates: InvalidCandidateError,
  too_many_candidates: InvalidCandidateError,
  too_many_features: InvalidCandidateError,
  too_many_events: InvalidInputError,
  too_many_feedback: InvalidInputError,
  missing_embedding: InvalidInputError,
  invalid_embedding: InvalidInputError,
  invalid_feedback: InvalidInputError,
  unknown_impression: InvalidInputError,
  invalid_prior: InvalidInputError,
  invalid_interest: InvalidInputError,
  too_many_interests: InvalidInputError,
  invalid_input: InvalidInputError,
  // InterestModelError
  interest_model_corrupt: InterestModelError,
  interest_model_wrong_shape: InterestModelError,
  interest_model_wrong_dimension: InterestModelError,
  interest_model_wrong_encoder: InterestModelError,
  interest_model_backend: InterestModelError,
  // StoreError
  store_corrupt: StorageError,
  store_version: StorageError,
  store_full: StorageError,
  store_io: StorageError,
  store_other_model: StorageError,
  // Raised by this package
  integrity: ModelIntegrityError,
  fetch: ModelIntegrityError,
  truncated: ModelIntegrityError,
  no_profile: StorageError,
  interest_model_unsupported: InterestModelError,
  unsupported_browser: UnsupportedBrowserError,
};

const CLASS_NAMES = new Map(Object.values(ERROR_CLASSES).map((c) => [c.name, c]));
CLASS_NAMES.set(CloisterError.name, CloisterError);

/** Structured fields an error may carry across postMessage. */
const FIELDS = ['url', 'expected', 'actual', 'missing'];

function fieldsOf(error) {
  const fields = {};
  for (const f of FIELDS) if (error?.[f] !== undefined) fields[f] = error[f];
  return fields;
}

/** Turns an error thrown by the wasm (or sent from the worker) into one of the classes above. */
export function fromWasm(error) {
  if (error instanceof CloisterError) return error;
  // By kind first (the core's errors); by class name for errors this package made itself.
  const Class = ERROR_CLASSES[error?.kind] ?? (error?.kind && CLASS_NAMES.get(error?.name));
  if (!Class) return error instanceof Error ? error : new CloisterError(String(error?.message ?? error));
  return new Class(error.message, error.kind, fieldsOf(error));
}

/** A plain object that survives postMessage. */
export function toPlain(error) {
  const e = fromWasm(error);
  return { name: e.name, kind: e.kind ?? 'unknown', message: e.message, ...fieldsOf(e) };
}
