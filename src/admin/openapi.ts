// The admin API's OpenAPI document (admin_api.yaml), parsed once for /api/openapi.json and the tests.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { adminApiSpecPath } from '../config/paths';

export type OpenApiDocument = {
  paths: Record<string, Record<string, { security?: unknown[]; operationId?: string }>>;
  components: { schemas: Record<string, unknown> };
} & Record<string, unknown>;

let cached: OpenApiDocument | undefined;

export function loadAdminApiSpec(): OpenApiDocument {
  cached ??= parseYaml(readFileSync(adminApiSpecPath, 'utf8')) as OpenApiDocument;
  return cached;
}
