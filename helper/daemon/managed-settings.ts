import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ManagedSettings } from '../../protocol/helper-api.js';

export interface ManagedSettingsRead {
  settings: ManagedSettings;
  /** Why the file was ignored; absent when it was fine or simply not there. */
  error?: string;
}

/** Reads the MDM settings; a bad file is reported and ignored as a whole (defaults apply), never fatal. */
export function readManagedSettings(path: string): ManagedSettingsRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { settings: {} };
    return { settings: {}, error: `cannot read ${path}: ${(e as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { settings: {}, error: `${path} is not valid JSON: ${(e as Error).message}` };
  }
  const parsed = ManagedSettings.safeParse(json);
  if (!parsed.success) return { settings: {}, error: `${path} is invalid: ${z.prettifyError(parsed.error)}` };
  return { settings: parsed.data };
}
