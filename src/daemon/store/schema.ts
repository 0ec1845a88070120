/**
 * The state database's schema, as numbered migrations. `PRAGMA
 * user_version` records how many have been applied; each runs in the
 * transaction that bumps it, so a crash never leaves half a migration.
 */
import type { DatabaseSync } from 'node:sqlite';
import { AegisError } from '../../errors.ts';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE instances (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     created_at TEXT NOT NULL,
     config TEXT NOT NULL,
     status TEXT NOT NULL
   ) STRICT`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the database up to SCHEMA_VERSION; refuses a newer one. */
export function migrate(db: DatabaseSync, file: string): void {
  const version = readVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new AegisError(
      'STATE_UNREADABLE',
      `${file} has schema version ${version}, newer than this aegisd ` +
        `understands (${SCHEMA_VERSION}); run the newer aegis, or move ` +
        'the file away to start afresh',
    );
  }
  for (let next = version; next < SCHEMA_VERSION; next++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[next]!);
      db.exec(`PRAGMA user_version = ${next + 1}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
}

export function readVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as {
    user_version: number;
  };
  return row.user_version;
}
