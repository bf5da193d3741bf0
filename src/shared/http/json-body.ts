import type { Context } from 'koa';
import type { z } from 'zod';
import { AppError } from './errors.ts';
import { hasNul } from './form-body.ts';

export const JSON_BODY_LIMIT = 16 * 1024;

/** Reads and validates a JSON body: 415 unless JSON, 413 past the limit, 400 naming the first problem. */
export async function readJson<Schema extends z.ZodType>(
  ctx: Context,
  schema: Schema,
  limit = JSON_BODY_LIMIT,
): Promise<z.infer<Schema>> {
  if (!ctx.is('application/json'))
    throw new AppError(415, 'unsupported_media_type', 'Send the body as application/json.');
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new AppError(413, 'payload_too_large', `The request body is larger than ${limit} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new AppError(413, 'payload_too_large', `The request body is larger than ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AppError(400, 'invalid_json', 'The request body is not valid JSON.');
  }
  return validate(schema, parsed, 'body');
}

/** The path to the first string (or key) holding a NUL character, if any. */
function nulAt(value: unknown, path: string[] = []): string[] | undefined {
  if (typeof value === 'string') return hasNul(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = nulAt(item, [...path, String(index)]);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (hasNul(key)) return path;
      const found = nulAt(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/** Validates a body, query or path: no NUL anywhere (PostgreSQL cannot store it), then the schema. */
export function validate<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  where: 'body' | 'query' | 'path',
): z.infer<Schema> {
  const nul = nulAt(value);
  if (nul)
    throw new AppError(
      400,
      'invalid_request',
      `${[where, ...nul].join('.')} contains a NUL character, which is not allowed.`,
    );
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length ? `${where}.${issue.path.join('.')}` : where;
  const message =
    issue.code === 'unrecognized_keys'
      ? `${field} has fields this API does not accept: ${issue.keys.join(', ')}.`
      : `${field}: ${issue.message}`;
  throw new AppError(400, 'invalid_request', message);
}
