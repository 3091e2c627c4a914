// The spec is the validator: every example in webhook_spec.yaml and every bin/data payload validates.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseWebhookBody } from '../../src/webhook/payload';
import { compileSpecSchema, loadWebhookSpec } from '../../src/webhook/specSchema';

type Json = Record<string, unknown>;
const spec = loadWebhookSpec() as Json;

function resolve(node: unknown): Json {
  let current = node as Json;
  while (typeof current.$ref === 'string') {
    current = (current.$ref as string)
      .slice(2)
      .split('/')
      .reduce<Json>((obj, key) => obj[key] as Json, spec);
  }
  return current;
}

type ExampleCase = [string, unknown, Json];

/** Every named example under a request body or a response, with the schema it must satisfy. */
function collectExamples(): ExampleCase[] {
  const cases: ExampleCase[] = [];
  const visitContent = (where: string, content: Json | undefined) => {
    for (const [mediaType, media] of Object.entries(content ?? {})) {
      const { schema, examples } = media as { schema: Json; examples?: Record<string, Json> };
      for (const [name, example] of Object.entries(examples ?? {})) {
        cases.push([`${where} ${mediaType} ${name}`, example.value, schema]);
      }
    }
  };
  for (const [route, item] of Object.entries(spec.paths as Json)) {
    for (const [method, operation] of Object.entries(item as Json)) {
      const op = operation as Json;
      if (op.requestBody) {
        visitContent(`${method} ${route} request`, resolve(op.requestBody).content as Json);
      }
      for (const [status, response] of Object.entries((op.responses ?? {}) as Json)) {
        visitContent(`${method} ${route} ${status}`, resolve(response).content as Json);
      }
    }
  }
  return cases;
}

const examples = collectExamples();

describe('webhook_spec.yaml', () => {
  it('has examples for requests and for every response status', () => {
    expect(examples.length).toBeGreaterThan(20);
    for (const status of ['200', '400', '403', '413', '415', '503']) {
      expect(examples.some(([name]) => name.includes(` ${status} `))).toBe(true);
    }
  });

  it.each(examples)('example %s matches its schema', (_name, value, schema) => {
    const validate = compileSpecSchema(schema);
    expect(validate.errors ?? null).toBeNull();
    const valid = validate(value);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('documents every error code the server can answer', () => {
    const codes = ((spec.components as Json).schemas as Json).Error as Json;
    const listed = ((codes.properties as Json).error as Json).enum as string[];
    for (const code of [
      'missing_signature',
      'malformed_signature',
      'timestamp_out_of_tolerance',
      'invalid_signature',
      'invalid_json',
      'invalid_payload',
      'payload_too_large',
      'unsupported_content_encoding',
      'store_unavailable',
      'server_busy',
    ]) {
      expect(listed).toContain(code);
    }
  });
});

describe('bin/data sample payloads', () => {
  const dir = path.join(__dirname, '..', '..', 'bin', 'data');
  const files = readdirSync(dir).filter((file) => file.endsWith('.json'));

  it('exist', () => {
    expect(files).toEqual(expect.arrayContaining(['sync.json', 'drain.json']));
  });

  it.each(files)('%s is a valid webhook body', (file) => {
    const result = parseWebhookBody(readFileSync(path.join(dir, file)));
    expect(result).toMatchObject({ ok: true });
  });
});
