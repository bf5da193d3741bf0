import { TASK_SCOPES } from '../tasks/task-scopes.ts';
import { z } from 'zod';
import {
  AssignBody,
  CreateTaskBody,
  ErrorEnvelope,
  ListQuery,
  Task,
  TaskPage,
  UpdateTaskBody,
} from '../tasks/task-schemas.ts';

const schema = (type: z.ZodType) => z.toJSONSchema(type, { target: 'draft-2020-12', io: 'input' });
const output = (type: z.ZodType) => z.toJSONSchema(type, { target: 'draft-2020-12', io: 'output' });
const json = (type: z.ZodType, io: 'input' | 'output' = 'output') => ({
  content: { 'application/json': { schema: io === 'input' ? schema(type) : output(type) } },
});

const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((status) => [String(status), { description: STATUS_TEXT[status] ?? 'Error', ...json(ErrorEnvelope) }]),
  );
const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request (unknown fields are refused)',
  401: 'No valid access token, or a second factor is needed (insufficient_user_authentication)',
  403: 'Not allowed: missing scope, wrong kind of caller, or not your task to change',
  404: 'No such task (or not one you may see)',
  413: 'Body too large',
  415: 'Not JSON',
  429: 'Rate limited; see Retry-After',
};
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const scopes = (...names: string[]) => [{ bearer: names }, { dpop: names }];

/** OpenAPI 3.1, generated from the same zod schemas the routes validate with. */
export function openApiDocument(options: { serverUrl: string; issuer: string }) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey task API',
      version: '1.0.0',
      description: 'A resource server that trusts only access tokens from the Latchkey issuer.',
    },
    servers: [{ url: options.serverUrl }],
    components: { securitySchemes: securitySchemes(options.issuer) },
    paths: { ...personalPaths(), ...workerPaths() },
  };
}

/** OAuth 2.0 at the issuer (code for people, client credentials for services), Bearer or DPoP. */
function securitySchemes(issuer: string) {
  return {
    bearer: {
      type: 'oauth2',
      flows: {
        authorizationCode: {
          authorizationUrl: `${issuer}/auth`,
          tokenUrl: `${issuer}/token`,
          scopes: {
            [TASK_SCOPES.read]: 'read your tasks',
            [TASK_SCOPES.write]: 'create and change your tasks',
            [TASK_SCOPES.admin]: 'delete tasks (admins, with step-up)',
          },
        },
        clientCredentials: {
          tokenUrl: `${issuer}/token`,
          scopes: { [TASK_SCOPES.work]: 'claim and complete tasks as a worker' },
        },
      },
    },
    dpop: { type: 'http', scheme: 'DPoP', description: 'A DPoP-bound access token with a proof (RFC 9449)' },
  };
}

/** A person's tasks. */
function personalPaths() {
  const listQuery = schema(ListQuery) as { properties: Record<string, object> };
  return {
    '/tasks': {
      post: {
        summary: 'Create a task owned by the caller',
        security: scopes(TASK_SCOPES.write),
        requestBody: { required: true, ...json(CreateTaskBody, 'input') },
        responses: { '201': { description: 'Created', ...json(Task) }, ...errors(400, 401, 403, 413, 415, 429) },
      },
    },
    '/tasks/mine': {
      get: {
        summary: 'Tasks the caller owns or is assigned, newest first',
        security: scopes(TASK_SCOPES.read),
        parameters: Object.entries(listQuery.properties).map(([name, schema]) => ({ name, in: 'query', schema })),
        responses: { '200': { description: 'A page', ...json(TaskPage) }, ...errors(400, 401, 403, 429) },
      },
    },
    '/tasks/{id}': {
      parameters: [idParameter],
      get: {
        summary: 'A task (owner, assignee or admin)',
        security: scopes(TASK_SCOPES.read),
        responses: { '200': { description: 'The task', ...json(Task) }, ...errors(401, 403, 404, 429) },
      },
      patch: {
        summary: 'Change a task (owner or admin)',
        security: scopes(TASK_SCOPES.write),
        requestBody: { required: true, ...json(UpdateTaskBody, 'input') },
        responses: { '200': { description: 'The task', ...json(Task) }, ...errors(400, 401, 403, 404, 429) },
      },
      delete: {
        summary: 'Delete a task (admin, second factor within 15 minutes)',
        security: scopes(TASK_SCOPES.admin),
        responses: { '204': { description: 'Deleted' }, ...errors(401, 403, 404, 429) },
      },
    },
    '/tasks/{id}/assignee': {
      parameters: [idParameter],
      put: {
        summary: 'Assign a task to a user sub, or clear (owner or admin)',
        security: scopes(TASK_SCOPES.write),
        requestBody: { required: true, ...json(AssignBody, 'input') },
        responses: { '200': { description: 'The task', ...json(Task) }, ...errors(400, 401, 403, 404, 429) },
      },
    },
  };
}

/** The worker service's queue. */
function workerPaths() {
  return {
    '/worker/tasks/next': {
      get: {
        summary: 'Claim the oldest open task (service accounts)',
        security: scopes(TASK_SCOPES.work),
        responses: {
          '200': { description: 'The claimed task', ...json(Task) },
          '204': { description: 'Nothing to do' },
          ...errors(401, 403, 429),
        },
      },
    },
    '/worker/tasks/{id}/complete': {
      parameters: [idParameter],
      post: {
        summary: 'Complete a task this worker claimed',
        security: scopes(TASK_SCOPES.work),
        responses: { '200': { description: 'The task', ...json(Task) }, ...errors(401, 403, 404, 429) },
      },
    },
  };
}
