import { execFileSync } from 'node:child_process';

const TOOL_PACKAGES: Record<string, string> = {
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  htpasswd: 'apache2-utils',
  'mkfs.ext4': 'e2fsprogs',
  debugfs: 'e2fsprogs',
  umoci: 'umoci',
  tar: 'tar',
};

/** Fails loudly, naming the Debian package, when a tool is missing. */
export function requireTools(...names: string[]): void {
  const missing = names.filter((name) => !hasTool(name));
  if (missing.length === 0) return;
  const packages = [
    ...new Set(missing.map((name) => TOOL_PACKAGES[name] ?? name)),
  ];
  throw new Error(
    `missing ${missing.join(', ')}: install with ` +
      `apt-get install -y ${packages.join(' ')}`,
  );
}

function hasTool(name: string): boolean {
  try {
    execFileSync(
      'sh',
      ['-c', `PATH="$PATH:/usr/sbin:/sbin" command -v ${name}`],
      {
        stdio: 'ignore',
      },
    );
    return true;
  } catch {
    return false;
  }
}
