// How the API's errors reach the person: problem+json (API.md "Errors") as ApiError, field errors and sentences.

export type FieldErrors = Record<string, string[]>;

/** A problem+json answer (API.md "Errors"), or an error status the server sent without one. */
export class ApiError extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly fieldErrors: FieldErrors;
  readonly retryAfter: number | null;

  constructor(init: {
    status: number;
    slug: string;
    title: string;
    detail?: string;
    fieldErrors?: FieldErrors;
    retryAfter?: number | null;
  }) {
    super(init.detail ?? init.title);
    this.name = 'ApiError';
    this.status = init.status;
    this.slug = init.slug;
    this.title = init.title;
    this.detail = init.detail;
    this.fieldErrors = init.fieldErrors ?? {};
    this.retryAfter = init.retryAfter ?? null;
  }
}

/** The request never got an HTTP answer (offline, DNS, connection refused, CORS). */
export class NetworkError extends Error {
  constructor(cause?: unknown) {
    super("Can't reach hexbank. Check your connection and try again.", { cause });
    this.name = 'NetworkError';
  }
}

/** Said at the Email field of registration, with a link to sign in. */
export const EMAIL_TAKEN = 'An account with this email already exists.';

/** Problems that are about one field even though the server sends no `errors` for them. */
const FIELD_OF_PROBLEM: Record<string, string> = {
  'email-taken': 'email',
  'insufficient-funds': 'amount',
  'same-account': 'target_account_id',
};

const FRIENDLY_MESSAGES: Record<string, string> = {
  'email-taken': EMAIL_TAKEN,
  'insufficient-funds': 'There is not enough money available on this account.',
  'same-account': 'Choose a different account to send to.',
  'account-closed': 'This account is closed.',
  'account-not-empty': 'Only an empty account can be closed: move or withdraw its money first.',
  'rate-limited': 'Too many attempts. Please wait a little and try again.',
  'service-unavailable': 'hexbank is briefly unavailable. Nothing you sent was lost; try again shortly.',
  'concurrent-modification': 'Something changed at the same time. Please try again.',
  'idempotency-key-in-use': 'Your previous request is still being processed.',
};

/** A sentence to show a person for any error the client raised. */
export function messageOf(error: unknown): string {
  if (error instanceof NetworkError) return error.message;
  if (error instanceof ApiError) {
    if (error.slug === 'unauthorized' && error.status === 401) return 'Wrong email or password.';
    if (error.slug === 'validation-error') return 'Please correct the highlighted fields.';
    if (error.slug === 'rate-limited' && error.retryAfter) return `Too many attempts. Try again in ${waitWords(error.retryAfter)}.`;
    return FRIENDLY_MESSAGES[error.slug] ?? error.detail ?? error.title;
  }
  return 'Something went wrong. Please try again.';
}

/** 45 → "45 seconds", 900 → "15 minutes". */
export function waitWords(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** A sentence for the whole form, or '' when the error is already said next to a field. */
export function formMessageOf(error: unknown): string {
  if (error instanceof ApiError && FIELD_OF_PROBLEM[error.slug] && !error.fieldErrors[FIELD_OF_PROBLEM[error.slug]]) return '';
  return messageOf(error);
}

/** Field errors of a problem, including problem types that concern a single field. */
export function fieldErrorsOf(error: unknown): FieldErrors {
  if (!(error instanceof ApiError)) return {};
  const errors: FieldErrors = { ...error.fieldErrors };
  const field = FIELD_OF_PROBLEM[error.slug];
  if (field && !errors[field]) errors[field] = [FRIENDLY_MESSAGES[error.slug] ?? error.title];
  return errors;
}

/** Turn an error response into an ApiError, whether or not its body is problem+json. */
export async function problemFrom(response: Response): Promise<ApiError> {
  const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await response.text());
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): fall back to the status alone.
  }
  const type = typeof body.type === 'string' ? body.type : '';
  return new ApiError({
    status: response.status,
    slug: type.startsWith('/problems/') ? type.slice('/problems/'.length) : `http-${response.status}`,
    title: typeof body.title === 'string' ? body.title : response.statusText || `HTTP ${response.status}`,
    detail: typeof body.detail === 'string' ? body.detail : undefined,
    fieldErrors: normaliseFieldErrors(body.errors),
    retryAfter,
  });
}

function normaliseFieldErrors(errors: unknown): FieldErrors {
  const result: FieldErrors = {};
  if (!errors || typeof errors !== 'object') return result;
  for (const [field, messages] of Object.entries(errors as Record<string, unknown>)) {
    const list = Array.isArray(messages) ? messages : [messages];
    result[field] = list.map((message) => String(message));
  }
  return result;
}

function parseRetryAfter(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value.trim())) return null;
  return Number(value.trim());
}
