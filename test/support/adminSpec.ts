// admin_api.yaml for tests: its operations, example paths, and checking real responses against its schemas.
import { loadAdminApiSpec } from '../../src/admin/openapi';
import { compileSpecSchema } from '../../src/webhook/specSchema';

type Json = Record<string, unknown>;

export const adminSpec = loadAdminApiSpec();

export type SpecOperation = {
  method: string;
  path: string;
  operation: Json;
  /** Whether the operation needs no credentials (`security: []`). */
  public: boolean;
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

export function resolve(node: unknown): Json {
  let current = node as Json;
  while (typeof current?.$ref === 'string') {
    current = (current.$ref as string)
      .slice(2)
      .split('/')
      .reduce<Json>((obj, key) => obj[key] as Json, adminSpec as Json);
  }
  return current;
}

export function specOperations(): SpecOperation[] {
  return Object.entries(adminSpec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({
        method,
        path,
        operation: operation as Json,
        public: Array.isArray(operation.security) && operation.security.length === 0,
      })),
  );
}

const SAMPLE_PARAMS: Record<string, string> = {
  connection: 'own',
  segment_id: '42',
  sync_task_id: 'task-1',
  user_id: 'user-1',
};

/** A concrete URL for a documented path: `{segment_id}` → 42 and so on. */
export function samplePath(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!(name in SAMPLE_PARAMS)) throw new Error(`no sample value for {${name}}`);
    return SAMPLE_PARAMS[name];
  });
}

/** Throws, naming the first mismatch, unless `body` matches the documented response. */
export function expectMatchesSpec(method: string, path: string, status: number, body: unknown) {
  const operation = (adminSpec.paths[path] as Json | undefined)?.[method] as Json | undefined;
  if (!operation) throw new Error(`${method.toUpperCase()} ${path} is not documented`);
  const response = resolve((operation.responses as Json)[String(status)]);
  if (!response) throw new Error(`${method.toUpperCase()} ${path} does not document ${status}`);
  const schema = resolve(((response.content as Json)?.['application/json'] as Json)?.schema);
  const validate = compileSpecSchema(schema, adminSpec.components.schemas);
  if (!validate(body)) {
    throw new Error(
      `${method.toUpperCase()} ${path} ${status} does not match admin_api.yaml: ${JSON.stringify(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
    );
  }
}
