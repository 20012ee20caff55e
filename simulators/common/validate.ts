/** Checks the simulators' request bodies share. */

/** A JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An absolute `http://` URL, as a listener the simulators call back must have: they deliver over
 * plain HTTP/1.1, without TLS.
 */
export function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    return new URL(value).protocol === 'http:';
  } catch {
    return false;
  }
}
