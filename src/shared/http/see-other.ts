import type { Context } from 'koa';

/** Redirects with 303 See Other: after a form POST the browser follows with a GET, never re-posting the form. */
export function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}
