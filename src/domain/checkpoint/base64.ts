const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * RFC 4648 §4 base64 with padding, rejecting anything Buffer.from would silently accept
 * (whitespace, URL alphabet, missing padding, non-zero trailing bits): one byte string,
 * one encoding, so a signed note cannot be re-encoded into a different but "valid" text.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}
