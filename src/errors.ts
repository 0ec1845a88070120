/**
 * The one error type of Aegis. Every failure a user or a client can see
 * carries a stable `code` from the table below; callers branch on the code,
 * never on the message. Messages name the offending value and the fix.
 *
 * docs/errors.md documents every code; test/errors.test.ts fails when the
 * table and this file drift apart.
 */
export const ERROR_CODES = {
  // Input from a user or a client.
  INVALID_ARGUMENT: { httpStatus: 400, exitCode: 2 },
  NOT_FOUND: { httpStatus: 404, exitCode: 3 },
  CONFLICT: { httpStatus: 409, exitCode: 4 },
  IMMUTABLE: { httpStatus: 409, exitCode: 4 },

  // The host: missing tools, artifacts or permissions.
  HOST_UNSUPPORTED: { httpStatus: 500, exitCode: 5 },
  ARTIFACT_MISSING: { httpStatus: 500, exitCode: 5 },
  STATE_UNREADABLE: { httpStatus: 500, exitCode: 5 },

  // The daemon, as the CLI sees it.
  DAEMON_UNAVAILABLE: { httpStatus: 503, exitCode: 9 },

  // The VMM and the guest.
  VMM_FAILED: { httpStatus: 500, exitCode: 6 },
  VMM_EXITED: { httpStatus: 409, exitCode: 6 },
  QMP_ERROR: { httpStatus: 500, exitCode: 6 },
  GUEST_PROTOCOL: { httpStatus: 502, exitCode: 6 },
  GUEST_DISCONNECTED: { httpStatus: 503, exitCode: 6 },
  GUEST_ERROR: { httpStatus: 500, exitCode: 6 },
  TIMEOUT: { httpStatus: 504, exitCode: 7 },

  // Images: registries, archives, layers and root disks.
  REGISTRY_UNAVAILABLE: { httpStatus: 502, exitCode: 8 },
  REGISTRY_UNAUTHORIZED: { httpStatus: 403, exitCode: 8 },
  DIGEST_MISMATCH: { httpStatus: 502, exitCode: 8 },
  IMAGE_UNSUPPORTED: { httpStatus: 422, exitCode: 8 },
  LAYER_UNSAFE: { httpStatus: 422, exitCode: 8 },
  LAYER_TOO_LARGE: { httpStatus: 413, exitCode: 8 },
  DISK_BUILD_FAILED: { httpStatus: 500, exitCode: 8 },

  // Anything else is a bug in Aegis.
  INTERNAL: { httpStatus: 500, exitCode: 1 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AegisError extends Error {
  override name = 'AegisError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }
}

export function isAegisError(
  error: unknown,
  code?: ErrorCode,
): error is AegisError {
  if (!(error instanceof AegisError)) return false;
  return code === undefined || error.code === code;
}

/** Describes any thrown value in one line, for logs and wrapped errors. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
