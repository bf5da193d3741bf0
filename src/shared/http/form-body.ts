import type { Context } from 'koa';
import { AppError } from './errors.ts';

/** Reads an application/x-www-form-urlencoded body, bounded, for our own HTML forms. */
export async function readForm(ctx: Context, limit = 16 * 1024): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded'))
    throw new AppError(415, 'unsupported_media_type', 'Forms must be sent as application/x-www-form-urlencoded.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new AppError(413, 'payload_too_large', 'The request body is too large.');
    chunks.push(chunk as Buffer);
  }
  const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  for (const [name, value] of form) {
    if (hasNul(name) || hasNul(value))
      throw new AppError(400, 'invalid_request', 'The form contains a character that is not allowed.');
  }
  return form;
}

/** NUL never belongs in text we accept, and PostgreSQL cannot store it: refused at the edge, before any query. */
export const hasNul = (value: string) => value.includes('\u0000');
