// Locates files shipped at the project root (the spec, public assets) from source or from dist/.
import { existsSync } from 'node:fs';
import path from 'node:path';

function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'webhook_spec.yaml'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`webhook_spec.yaml not found above ${start}`);
    dir = parent;
  }
}

export const projectRoot = findProjectRoot(__dirname);
export const webhookSpecPath = path.join(projectRoot, 'webhook_spec.yaml');
export const adminApiSpecPath = path.join(projectRoot, 'admin_api.yaml');
/** The dashboard's static assets (HTML/CSS/JS modules, no build step). */
export const publicDir = path.join(projectRoot, 'public');
/** The PostgreSQL store's versioned migrations (SQL files, read at run time from source or dist). */
export const postgresMigrationsDir = path.join(
  projectRoot,
  'src',
  'store',
  'postgres',
  'migrations',
);
/** The SQLite store's versioned migrations (SQL files, read at run time like PostgreSQL's). */
export const sqliteMigrationsDir = path.join(projectRoot, 'src', 'store', 'sqlite', 'migrations');
