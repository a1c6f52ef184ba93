// DOMException for the guest isolate.
//
// Shaped after workerd rather than the letter of WebIDL: `code`, `name` and
// `message` are own, read-only, enumerable data properties and `stack` is an
// own accessor (workerd shows exactly these four own properties), the legacy
// code constants live on both the constructor and the prototype, and there is
// no Symbol.toStringTag.

// The WebIDL "error names" table: names that carry a legacy numeric code.
// Any other name gets code 0.
const LEGACY_CODES: ReadonlyArray<readonly [name: string, constant: string, code: number]> = [
  ['IndexSizeError', 'INDEX_SIZE_ERR', 1],
  ['DOMStringSizeError', 'DOMSTRING_SIZE_ERR', 2],
  ['HierarchyRequestError', 'HIERARCHY_REQUEST_ERR', 3],
  ['WrongDocumentError', 'WRONG_DOCUMENT_ERR', 4],
  ['InvalidCharacterError', 'INVALID_CHARACTER_ERR', 5],
  ['NoDataAllowedError', 'NO_DATA_ALLOWED_ERR', 6],
  ['NoModificationAllowedError', 'NO_MODIFICATION_ALLOWED_ERR', 7],
  ['NotFoundError', 'NOT_FOUND_ERR', 8],
  ['NotSupportedError', 'NOT_SUPPORTED_ERR', 9],
  ['InUseAttributeError', 'INUSE_ATTRIBUTE_ERR', 10],
  ['InvalidStateError', 'INVALID_STATE_ERR', 11],
  ['SyntaxError', 'SYNTAX_ERR', 12],
  ['InvalidModificationError', 'INVALID_MODIFICATION_ERR', 13],
  ['NamespaceError', 'NAMESPACE_ERR', 14],
  ['InvalidAccessError', 'INVALID_ACCESS_ERR', 15],
  ['ValidationError', 'VALIDATION_ERR', 16],
  ['TypeMismatchError', 'TYPE_MISMATCH_ERR', 17],
  ['SecurityError', 'SECURITY_ERR', 18],
  ['NetworkError', 'NETWORK_ERR', 19],
  ['AbortError', 'ABORT_ERR', 20],
  ['URLMismatchError', 'URL_MISMATCH_ERR', 21],
  ['QuotaExceededError', 'QUOTA_EXCEEDED_ERR', 22],
  ['TimeoutError', 'TIMEOUT_ERR', 23],
  ['InvalidNodeTypeError', 'INVALID_NODE_TYPE_ERR', 24],
  ['DataCloneError', 'DATA_CLONE_ERR', 25],
];

const CODE_BY_NAME = new Map<string, number>(LEGACY_CODES.map(([name, , code]) => [name, code]));

/** The legacy numeric code for a DOMException name (0 when it has none). */
export function legacyCodeFor(name: string): number {
  return CODE_BY_NAME.get(name) ?? 0;
}

// V8's Error.captureStackTrace exists in every V8 context (it is not a Node
// API); guard anyway so the class still works on an engine without it.
type CaptureStackTrace = (target: object, constructorOpt?: Function) => void;
const captureStackTrace: CaptureStackTrace | undefined =
  (Error as unknown as { captureStackTrace?: CaptureStackTrace }).captureStackTrace;

function readOnly(value: unknown): PropertyDescriptor {
  return { value, writable: false, enumerable: true, configurable: true };
}

export class DOMException extends Error {
  declare readonly code: number;
  declare readonly name: string;
  declare readonly message: string;

  declare static readonly INDEX_SIZE_ERR: 1;
  declare static readonly DOMSTRING_SIZE_ERR: 2;
  declare static readonly HIERARCHY_REQUEST_ERR: 3;
  declare static readonly WRONG_DOCUMENT_ERR: 4;
  declare static readonly INVALID_CHARACTER_ERR: 5;
  declare static readonly NO_DATA_ALLOWED_ERR: 6;
  declare static readonly NO_MODIFICATION_ALLOWED_ERR: 7;
  declare static readonly NOT_FOUND_ERR: 8;
  declare static readonly NOT_SUPPORTED_ERR: 9;
  declare static readonly INUSE_ATTRIBUTE_ERR: 10;
  declare static readonly INVALID_STATE_ERR: 11;
  declare static readonly SYNTAX_ERR: 12;
  declare static readonly INVALID_MODIFICATION_ERR: 13;
  declare static readonly NAMESPACE_ERR: 14;
  declare static readonly INVALID_ACCESS_ERR: 15;
  declare static readonly VALIDATION_ERR: 16;
  declare static readonly TYPE_MISMATCH_ERR: 17;
  declare static readonly SECURITY_ERR: 18;
  declare static readonly NETWORK_ERR: 19;
  declare static readonly ABORT_ERR: 20;
  declare static readonly URL_MISMATCH_ERR: 21;
  declare static readonly QUOTA_EXCEEDED_ERR: 22;
  declare static readonly TIMEOUT_ERR: 23;
  declare static readonly INVALID_NODE_TYPE_ERR: 24;
  declare static readonly DATA_CLONE_ERR: 25;

  // Defaults (rather than `?`) keep DOMException.length at 0, as in workerd.
  constructor(message: string | undefined = undefined, name: string | undefined = undefined) {
    const messageText = message === undefined ? '' : String(message);
    const nameText = name === undefined ? 'Error' : String(name);
    super();
    // The Error constructor already captured a stack whose header says
    // "Error"; drop it and capture again once name and message are set, so
    // the header reads "AbortError: message" and the property order matches
    // workerd (code, name, message, stack).
    delete (this as { stack?: string }).stack;
    Object.defineProperties(this, {
      code: readOnly(legacyCodeFor(nameText)),
      name: readOnly(nameText),
      message: readOnly(messageText),
    });
    // Hide the constructor frames (of a subclass too) from the trace.
    captureStackTrace?.(this, new.target);
  }
}

for (const [, constant, code] of LEGACY_CODES) {
  Object.defineProperty(DOMException, constant, readOnly(code));
  Object.defineProperty(DOMException.prototype, constant, readOnly(code));
}
