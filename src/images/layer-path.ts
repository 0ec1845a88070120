import { AegisError } from '../errors.ts';

/**
 * Turns a tar entry name into a relative path of plain components
 * (`a/b/c`; the tree root is the empty string). Absolute names, `..`
 * and characters Aegis cannot carry into the disk are refused, never
 * rewritten: a layer that needs them is built wrong or built to attack.
 */
export function cleanEntryPath(rawName: string, layer: string): string {
  const fail = (why: string): never => {
    throw unsafeEntry(layer, rawName, why);
  };
  if (rawName.startsWith('/')) fail('is an absolute path');
  if (/[\n\r\0]/.test(rawName)) fail('has a newline or NUL in its name');

  const parts: string[] = [];
  for (const part of rawName.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') fail('climbs out of the tree with ..');
    parts.push(part);
  }
  return parts.join('/');
}

export function parentOf(relPath: string): string {
  const slash = relPath.lastIndexOf('/');
  return slash === -1 ? '' : relPath.slice(0, slash);
}

export function baseOf(relPath: string): string {
  return relPath.slice(relPath.lastIndexOf('/') + 1);
}

export function joinRel(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

export function unsafeEntry(
  layer: string,
  rawName: string,
  why: string,
): AegisError {
  return new AegisError(
    'LAYER_UNSAFE',
    `layer ${layer} entry ${JSON.stringify(rawName)} ${why}; ` +
      'the image was refused and nothing was unpacked from it',
  );
}
