/**
 * BASEFS_HOME: where one node keeps its key, its settings and its filesystems. Several nodes can
 * live on one machine by giving each its own BASEFS_HOME (the environment variable; default
 * ~/.basefs).
 *
 * Layout:
 *
 *   $BASEFS_HOME/
 *     id_ed25519       the default private key (keys.ts text format, mode 0600), made by `genkey`
 *     config.json      settings (below), written atomically
 *     fs/<name>/       one filesystem: the replica directory of replica.ts (log, log.lock, blocks/)
 *
 * config.json (version 1). Unknown fields are kept on rewrite, so a later release can add settings
 * without an older one destroying them:
 *
 *   {
 *     "version": 1,
 *     "filesystems": {
 *       "<name>": {
 *         "port": 18374,                          base port (gossip); see defaultPort()
 *         "seeds": ["10.0.0.1:18374", ...],       the addresses given to `bootstrap -i`
 *         "createdAt": "2026-11-25T16:50:01.000Z" when this node created or fetched it
 *       }
 *     }
 *   }
 *
 * A filesystem is what exists under fs/ (the log is the truth); its config section only holds
 * settings, and each filesystem's settings come from its own section (unlike the original, where a
 * log without a section borrowed the last section's settings).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { err, isBasefsError } from './errors.ts';
import { errnoCode, ioError, writeFileAtomic } from './durable-fs.ts';
import { normalizePath } from './paths.ts';

export const HOME_ENV = 'BASEFS_HOME';
export const DEFAULT_KEY_FILE = 'id_ed25519';
export const CONFIG_FILE = 'config.json';
export const FS_DIR = 'fs';
export const CONFIG_VERSION = 1;

/** Filesystem names: 1..64 of [A-Za-z0-9._-], starting with a letter or digit (no '/', no ':'). */
export const MAX_FS_NAME = 64;
const FS_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface FsConfig {
  port: number;
  seeds: string[];
  createdAt: string;
  [extra: string]: unknown;
}

export interface Config {
  version: number;
  filesystems: Record<string, FsConfig>;
  [extra: string]: unknown;
}

/** The home directory for `env` (absolute): $BASEFS_HOME if set and non-empty, else ~/.basefs. */
export function homeDir(env: Record<string, string | undefined> = process.env): string {
  const explicit = env[HOME_ENV];
  if (explicit !== undefined && explicit !== '') return resolve(explicit);
  const user = env['HOME'] !== undefined && env['HOME'] !== '' ? env['HOME'] : homedir();
  return join(user, '.basefs');
}

export function defaultKeyPath(home: string): string {
  return join(home, DEFAULT_KEY_FILE);
}

export function configPath(home: string): string {
  return join(home, CONFIG_FILE);
}

/** Throws USAGE unless `name` is a valid filesystem name. */
export function checkFsName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw err('USAGE', 'a filesystem name cannot be empty');
  if (name.length > MAX_FS_NAME) throw err('USAGE', `a filesystem name is at most ${MAX_FS_NAME} characters`);
  if (!FS_NAME.test(name))
    throw err('USAGE', `bad filesystem name '${name}': use letters, digits, '.', '_' and '-', starting with a letter or digit`);
}

/** The replica directory of filesystem `name` (the name is validated). */
export function fsDir(home: string, name: string): string {
  checkFsName(name);
  return join(home, FS_DIR, name);
}

/**
 * The default base port of a filesystem, as in the original but with SHA-256 instead of MD5:
 * 10000 + (SHA-256(UTF-8 name) read as a big-endian integer, mod 10000). Deterministic, so every
 * node agrees on it without configuration; `sha256sum` can recompute it.
 */
export function defaultPort(name: string): number {
  const hex = createHash('sha256').update(name, 'utf8').digest('hex');
  return 10000 + Number(BigInt('0x' + hex) % 10000n);
}

export function emptyConfig(): Config {
  return { version: CONFIG_VERSION, filesystems: {} };
}

/** Reads config.json; a missing file is an empty config. MALFORMED if it is not a config. */
export function readConfig(home: string): Config {
  const path = configPath(home);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return emptyConfig();
    throw ioError(e, `cannot read ${path}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw err('MALFORMED', `${path} is not valid JSON`);
  }
  return validateConfig(data, path);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateConfig(data: unknown, path: string): Config {
  if (!isObject(data)) throw err('MALFORMED', `${path}: expected a JSON object`);
  const version = data['version'] ?? CONFIG_VERSION;
  if (version !== CONFIG_VERSION) throw err('MALFORMED', `${path}: unsupported config version ${String(version)}`);
  const fss = data['filesystems'] ?? {};
  if (!isObject(fss)) throw err('MALFORMED', `${path}: "filesystems" must be an object`);
  const filesystems: Record<string, FsConfig> = {};
  for (const [name, raw] of Object.entries(fss)) {
    if (!isObject(raw)) throw err('MALFORMED', `${path}: filesystem "${name}" must be an object`);
    const port = raw['port'] ?? defaultPort(name);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      throw err('MALFORMED', `${path}: filesystem "${name}" has a bad port`);
    const seeds = raw['seeds'] ?? [];
    if (!Array.isArray(seeds) || !seeds.every((s) => typeof s === 'string'))
      throw err('MALFORMED', `${path}: filesystem "${name}" seeds must be strings`);
    const createdAt = raw['createdAt'] ?? '';
    if (typeof createdAt !== 'string') throw err('MALFORMED', `${path}: filesystem "${name}" has a bad createdAt`);
    filesystems[name] = { ...raw, port, seeds: seeds as string[], createdAt };
  }
  return { ...data, version: CONFIG_VERSION, filesystems };
}

/** Writes config.json atomically (temporary file, fsync, rename, fsync of the directory). */
export function writeConfig(home: string, config: Config): void {
  const path = configPath(home);
  const text = JSON.stringify(validateConfig(config, path), null, 2) + '\n';
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    writeFileAtomic(path, Buffer.from(text, 'utf8'), { mode: 0o644, replace: true });
  } catch (e) {
    throw ioError(e, `cannot write ${path}`);
  }
}

/** Read-modify-write of one filesystem's section (`null` removes it). */
export function updateFsConfig(home: string, name: string, section: FsConfig | null): Config {
  checkFsName(name);
  const config = readConfig(home);
  if (section === null) delete config.filesystems[name];
  else config.filesystems[name] = section;
  writeConfig(home, config);
  return config;
}

/** A filesystem's settings: its own section, or the defaults when it has none. */
export function fsConfig(config: Config, name: string): FsConfig {
  return config.filesystems[name] ?? { port: defaultPort(name), seeds: [], createdAt: '' };
}

/** Names of the filesystems in `home` (directories under fs/ that hold a log), sorted. */
export function listFilesystems(home: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(home, FS_DIR), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw ioError(e, `cannot list ${join(home, FS_DIR)}`);
  }
  return names
    .filter((n) => FS_NAME.test(n) && n.length <= MAX_FS_NAME)
    .filter((n) => existsSync(join(home, FS_DIR, n, 'log')))
    .sort();
}

export interface Target {
  name: string;
  /** Normalized absolute path inside the filesystem ("/" when none was given). */
  path: string;
  /** Whether the text named a path explicitly. */
  explicitPath: boolean;
}

/**
 * Parses "name" or "name:/path". The path must be absolute; it is normalized (no "..").
 * Throws USAGE on a bad name or path.
 */
export function resolveTarget(text: string): Target {
  if (typeof text !== 'string' || text.length === 0) throw err('USAGE', 'expected NAME or NAME:/PATH');
  const colon = text.indexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  checkFsName(name);
  if (colon < 0) return { name, path: '/', explicitPath: false };
  const raw = text.slice(colon + 1);
  if (!raw.startsWith('/')) throw err('USAGE', `'${text}': the path after ':' must start with '/'`);
  try {
    return { name, path: normalizePath(raw), explicitPath: true };
  } catch (e) {
    if (isBasefsError(e)) throw err('USAGE', `'${raw}' is not a valid path (${e.message.replace(/^[A-Z_]+: /, '')})`);
    throw e;
  }
}
