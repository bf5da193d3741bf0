import { IncomingMessage, type ServerResponse } from 'node:http';

/**
 * A POST /token as the steps before oidc-provider see it: the body read once (within the
 * provider's own 56 KiB limit) and parsed, the client it names, and, after the steps, the request
 * handed to the provider with whatever they rewrote.
 *
 * Why a new IncomingMessage rather than a parsed body: oidc-provider reads the raw stream itself,
 * and falls back to `req.body` only with a warning that an upstream body parser "is not
 * recommended" (lib/shared/selective_body.js). A replayed request is what it expects to read,
 * through every version of its parser. Recorded in docs/issuer.md.
 */
export interface TokenRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The form, which a step may rewrite (the refresh grace puts the successor in). */
  readonly form: URLSearchParams;
  /** Marks the steps put on the request, read back by the provider's hooks (see `hasMark`). */
  readonly marks: Set<symbol>;
}

const BODY_LIMIT = 56 * 1024;
const requestMarks = new WeakMap<IncomingMessage, Set<symbol>>();

/** The request, read and parsed; undefined when the body is too large (then 413 has been sent). */
export async function readTokenRequest(req: IncomingMessage, res: ServerResponse): Promise<TokenRequest | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) {
      sendOAuthError(res, 413, 'invalid_request', 'the request body is too large');
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return { req, res, form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')), marks: new Set() };
}

/** The request to hand to the provider: the original's head, the (possibly rewritten) form as its body. */
export function forProvider(request: TokenRequest): IncomingMessage {
  const { req: original } = request;
  const body = Buffer.from(request.form.toString());
  const replay = new IncomingMessage(original.socket);
  replay.method = original.method;
  replay.url = original.url;
  replay.httpVersion = original.httpVersion;
  replay.httpVersionMajor = original.httpVersionMajor;
  replay.httpVersionMinor = original.httpVersionMinor;
  replay.headers = { ...original.headers, 'content-length': String(body.length) };
  replay.rawHeaders = original.rawHeaders;
  replay.push(body);
  replay.push(null);
  // Normally set by the HTTP parser; without it, finishing the stream counts as an abort and closes the socket.
  replay.complete = true;
  if (request.marks.size) requestMarks.set(replay, request.marks);
  return replay;
}

/** Whether a step marked the request the provider is now handling. */
export function hasMark(req: IncomingMessage | undefined, mark: symbol): boolean {
  return req !== undefined && (requestMarks.get(req)?.has(mark) ?? false);
}

const safeDecode = (value: string) => {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
};

/** The client a token request names, before it is authenticated (the provider authenticates it after). */
export function presentedClientId({ req, form }: TokenRequest): string | undefined {
  const authorization = req.headers.authorization;
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    // A malformed escape names no client; the provider refuses the request on its own terms.
    if (separator > 0) return safeDecode(decoded.slice(0, separator));
  }
  const assertion = form.get('client_assertion');
  if (assertion) {
    try {
      const claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
        sub?: unknown;
      };
      if (typeof claims.sub === 'string') return claims.sub;
    } catch {
      return form.get('client_id') ?? undefined;
    }
  }
  return form.get('client_id') ?? undefined;
}

/** An OAuth error written straight to the response (these steps run where koa no longer responds). */
export function sendOAuthError(res: ServerResponse, status: number, error: string, description: string): void {
  const body = JSON.stringify({ error, error_description: description });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
