/**
 * Packs the demo root file system as an OCI image layout in a tar file,
 * which `aegis image load -i` takes like any other image. Files are owned
 * by root in the image whoever builds it, and the archive is reproducible
 * (sorted entries, fixed times).
 *
 * Usage: node scripts/build-demo-image.ts ROOTFS_DIR IMAGE_JSON OUTPUT_TAR [REF]
 * (REF defaults to aegis-demo:latest)
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

const [rootfs, imageJson, output, refName = 'aegis-demo:latest'] =
  process.argv.slice(2);
if (rootfs === undefined || imageJson === undefined || output === undefined) {
  process.stderr.write(
    'usage: build-demo-image.ts ROOTFS IMAGE_JSON OUTPUT [REF]\n',
  );
  process.exit(2);
}

const EPOCH = new Date(0);

async function pack(
  add: (pack: tar.Pack) => Promise<void> | void,
): Promise<Buffer> {
  const archive = tar.pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk) => {
    chunks.push(chunk as Buffer);
  });
  const ended = new Promise<void>((resolve) => archive.on('end', resolve));
  await add(archive);
  archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}

function addTree(archive: tar.Pack, dir: string, prefix: string): void {
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const entryName = `${prefix}${name}`;
    const stat = lstatSync(full);
    const header = {
      name: entryName,
      mode: stat.mode & 0o7777,
      uid: 0,
      gid: 0,
      mtime: EPOCH,
    };
    if (stat.isSymbolicLink()) {
      archive.entry({
        ...header,
        type: 'symlink',
        linkname: readlinkSync(full),
      });
    } else if (stat.isDirectory()) {
      archive.entry({ ...header, name: `${entryName}/`, type: 'directory' });
      addTree(archive, full, `${entryName}/`);
    } else if (stat.isFile()) {
      archive.entry({ ...header, type: 'file' }, readFileSync(full));
    }
  }
}

function digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function descriptor(mediaType: string, bytes: Buffer) {
  return { mediaType, digest: digest(bytes), size: bytes.length };
}

const layerTar = await pack((archive) => addTree(archive, rootfs, ''));
const layer = gzipSync(layerTar, { level: 9 });
const settings = JSON.parse(readFileSync(imageJson, 'utf8'));
const config = Buffer.from(
  JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {
      Entrypoint: settings.entrypoint,
      Cmd: settings.cmd,
      Env: settings.env,
      WorkingDir: settings.workingDir,
      User: settings.user,
      ExposedPorts: Object.fromEntries(
        settings.exposedPorts.map((port: number) => [`${port}/tcp`, {}]),
      ),
    },
    rootfs: { type: 'layers', diff_ids: [digest(layerTar)] },
  }),
);
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: descriptor('application/vnd.oci.image.config.v1+json', config),
    layers: [descriptor('application/vnd.oci.image.layer.v1.tar+gzip', layer)],
  }),
);
const index = JSON.stringify({
  schemaVersion: 2,
  manifests: [
    {
      ...descriptor('application/vnd.oci.image.manifest.v1+json', manifest),
      annotations: { 'org.opencontainers.image.ref.name': refName },
    },
  ],
});

const layout = await pack((archive) => {
  const file = (name: string, content: Buffer | string) =>
    archive.entry({ name, mode: 0o644, mtime: EPOCH }, content);
  file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  file('index.json', index);
  for (const blob of [layer, config, manifest]) {
    file(`blobs/sha256/${digest(blob).slice('sha256:'.length)}`, blob);
  }
});
await writeFile(`${output}.tmp`, layout);
await rename(`${output}.tmp`, output);
