/**
 * The failure type shared by the REST handlers and the programmatic control surface: it carries the HTTP
 * status and ARM error code, so the same validation answers an SDK call with the right ARM error body and a
 * test calling `setConnectionStatus` with a readable exception.
 */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ArmError';
  }

  toBody(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function badRequest(code: string, message: string): ArmError {
  return new ArmError(400, code, message);
}

export function notFound(code: string, message: string): ArmError {
  return new ArmError(404, code, message);
}
