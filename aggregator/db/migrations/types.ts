import type Database from 'better-sqlite3';

/** One numbered schema step; `up` is SQL or a function, run inside a transaction. */
export interface Migration {
  version: number;
  name: string;
  up: string | ((db: Database.Database) => void);
}
