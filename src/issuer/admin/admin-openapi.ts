import { z } from 'zod';
import type { AnyAdminRoute } from './admin-route.ts';
import { ErrorBody } from './admin-schemas.ts';

const jsonSchema = (type: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(type, { target: 'draft-2020-12', io, unrepresentable: 'any' });
const json = (type: z.ZodType, io: 'input' | 'output') => ({
  content: { 'application/json': { schema: jsonSchema(type, io) } },
});

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input (unknown fields are refused); the message names the first problem',
  401: 'No valid access token, or (insufficient_user_authentication) a second factor is needed',
  403: 'The token lacks admin:read or admin:write',
  404: 'No such resource',
  409: 'Conflicts with what exists (a name or address taken)',
  413: 'Body too large',
  415: 'Not JSON',
  503: 'A dependency is unavailable; retry after Retry-After',
};

/** `/users/:id` → `/users/{id}`, and its path parameters as OpenAPI describes them. */
function pathOf(route: AnyAdminRoute) {
  const names = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((match) => match[1]!);
  const shape = route.params instanceof z.ZodObject ? (route.params.shape as Record<string, z.ZodType>) : {};
  return {
    path: route.path.replace(/:([A-Za-z]+)/g, '{$1}'),
    parameters: names.map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: shape[name] ? jsonSchema(shape[name], 'input') : { type: 'string' },
    })),
  };
}

function queryParameters(route: AnyAdminRoute) {
  if (!(route.query instanceof z.ZodObject)) return [];
  return Object.entries(route.query.shape as Record<string, z.ZodType>).map(([name, type]) => ({
    name,
    in: 'query',
    required: !type.safeParse(undefined).success,
    schema: jsonSchema(type, 'input'),
    ...(type.description ? { description: type.description } : {}),
  }));
}

function operation(route: AnyAdminRoute, parameters: object[]) {
  const status = route.status ?? 200;
  const errors = [...new Set([400, 401, 403, 503, ...(route.errors ?? [])])].sort();
  return {
    operationId: `${route.method}${route.path.replace(/[/:]+([a-z])/gi, (_, c: string) => c.toUpperCase())}`,
    tags: [route.tag],
    summary: route.summary,
    security: [{ bearer: [`admin:${route.access}`] }, { dpop: [`admin:${route.access}`] }, { localOperator: [] }],
    parameters: [...parameters, ...queryParameters(route)],
    ...(route.body ? { requestBody: { required: true, ...json(route.body, 'input') } } : {}),
    responses: {
      [String(status)]: {
        description: status === 204 ? 'Done' : 'Success',
        ...(route.response && status !== 204 ? json(route.response, 'output') : {}),
      },
      ...Object.fromEntries(
        errors.map((code) => [
          String(code),
          { description: ERROR_TEXT[code] ?? 'Error', ...json(ErrorBody, 'output') },
        ]),
      ),
    },
  };
}

/** OpenAPI 3.1 for the admin API, generated from the route declarations the router serves. */
export function adminOpenApi(routes: AnyAdminRoute[], issuerUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const { path, parameters } = pathOf(route);
    (paths[path] ??= {})[route.method] = operation(route, parameters);
  }
  // OpenID Connect discovery names every flow (device grant for people, client credentials for services).
  const openIdConnectUrl = `${issuerUrl}/.well-known/openid-configuration`;
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey admin API',
      version: '1.0.0',
      description:
        'Administration of a Latchkey issuer. Tokens are for the audience <issuer>/admin, held through the admin role; writes by a person need a second factor at most 15 minutes old.',
    },
    servers: [{ url: `${issuerUrl}/admin/v1` }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'openIdConnect',
          openIdConnectUrl,
          description: 'An access token for the audience <issuer>/admin with admin:read or admin:write.',
        },
        dpop: { type: 'openIdConnect', openIdConnectUrl, description: 'The same tokens, bound with DPoP (RFC 9449).' },
        localOperator: {
          type: 'http',
          scheme: 'LocalOperator',
          description:
            'The credential in DATA_DIR/local-operator.token, from loopback only (the latchkey CLI beside the server).',
        },
      },
    },
    paths,
  };
}
