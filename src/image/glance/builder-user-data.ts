import { releaseDirName } from "../../lib/server-root.js";
import type { ReleaseGrant } from "../release-grants.js";

/**
 * What a builder server applies: the recipe folder or the release, as a
 * gzip'd tar carried in the script, or the release fetched from the control
 * plane with a grant (a release too big for Nova's 65,535 bytes of user data).
 */
export type BuilderPayload =
  | { kind: "recipe"; tarball: Buffer; timeoutMs: number; env: Record<string, string> }
  | { kind: "release"; tarball: Buffer; release: { id: string; version: string } }
  | { kind: "release"; grant: ReleaseGrant; release: { id: string; version: string } };

export interface BuilderScriptOptions {
  /** Image being baked (named in the script's comment and log). */
  image: string;
  /** The agent's server root on the image. @default "/var/lib/strata/server" */
  root?: string;
  /**
   * Command that runs the agent on the image (the provider's `agent_command`):
   * a release is laid with its `lay-release`, and unpacked plainly when the
   * image has no such command. @default "strata agent"
   */
  agentCommand?: string;
}

/** The line the script prints to the console when the layer failed; the rest of the console is its output. */
export const FAILED_MARKER = "strata-bake: failed:";
/** The line it prints when the layer is applied (then it powers the builder off). */
export const DONE_MARKER = "strata-bake: done";

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * The user data of a bake's builder server: a shell script that unpacks the
 * payload embedded in it and applies it the way the local store does (a
 * recipe's files copied into `/`, then its provision.sh run there with a
 * timeout; a release laid by the image's strata, `strata agent lay-release`,
 * into the root's file store with the release folder linked to it, `current`
 * and `activations.json` as the agent leaves them, or only unpacked into
 * `<root>/releases/<dir>` where the image has no strata), prints its output and a
 * result line to the console, and powers the server off either way: a
 * SHUTOFF builder is a finished one, and its console says how it went.
 */
export function builderUserData(payload: BuilderPayload, options: BuilderScriptOptions): string {
  const root = options.root ?? "/var/lib/strata/server";
  const obtain =
    "grant" in payload
      ? fetchRelease(payload.grant, payload.release.id)
      : `base64 -d > "$work/payload.tar.gz" <<'STRATA_PAYLOAD'
${payload.tarball.toString("base64").replace(/(.{76})/g, "$1\n")}
STRATA_PAYLOAD`;
  const apply =
    payload.kind === "recipe"
      ? `mkdir -p "$work/recipe"
tar -xzf "$work/payload.tar.gz" -C "$work/recipe"
(cd "$work/recipe" && tar -cf - --exclude=./provision.sh .) | tar -xf - -C /
if [ -f "$work/recipe/provision.sh" ]; then
  ${Object.entries(payload.env)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(" ")} timeout ${Math.max(1, Math.ceil(payload.timeoutMs / 1000))} \\
    sh -c 'cd / && exec sh "$1"' provision "$work/recipe/provision.sh" || finish "provision.sh exited with $?"
fi`
      : layRelease(payload.release, root, options.agentCommand ?? "strata agent");
  return `#!/bin/sh
# strata: bake a ${payload.kind} layer into image ${options.image}, then power off
exec > /dev/console 2>&1
finish() {
  if [ -n "$1" ]; then echo "${FAILED_MARKER} $1"; else echo "${DONE_MARKER}"; fi
  sync
  poweroff
  exit 0
}
work=$(mktemp -d)
${obtain}
${apply}
rm -rf "$work"
finish ""
`;
}

/**
 * Lays the release with the image's strata (the agent's own layRelease, so
 * the image carries the file store and a server booted from it fetches only
 * what its next release changes), as root like the agent the fleet's user
 * data starts; apps that run as the agent's account get their own inodes at
 * boot (unshareStore). An image without strata, or with one that predates
 * `lay-release` (its agent refuses the word: exit 2), gets the release only
 * unpacked, and the console says so. umask 022: the agent's unprivileged app
 * account reads the release.
 */
function layRelease(release: { id: string; version: string }, root: string, command: string) {
  const dir = `${root}/releases/${releaseDirName(release.id)}`;
  return `umask 022
lay() { ${command} lay-release "$@"; }
if lay --help >/dev/null 2>&1; then
  lay --root ${quote(root)} --release ${quote(release.id)} --version ${quote(release.version)} \\
    --tarball "$work/payload.tar.gz" || finish "laying release ${release.id} into the file store exited with $?"
else
  echo ${quote(`strata-bake: no \`${command} lay-release\` on this image: release only unpacked, no file store`)}
  mkdir -p ${quote(dir)}
  tar -xzf "$work/payload.tar.gz" -C ${quote(dir)} || finish "unpacking release ${release.id} exited with $?"
  ln -sfn ${quote(`releases/${releaseDirName(release.id)}`)} ${quote(`${root}/current`)}
  printf '%s\\n' ${quote(JSON.stringify({ [release.id]: { activated_at: 0, version: release.version } }))} > ${quote(`${root}/activations.json`)}
fi`;
}

/**
 * Downloads the release with curl, else wget (whichever the image has), and
 * checks its sha256 against the release id before anything is unpacked. The
 * credential goes in a header (curl reads it from a file, off the command
 * line); curl drops it on a redirect to another host. With the grant's CA
 * (a control plane serving HTTPS with strata's own certificate), that CA is
 * what the download trusts, as the agents pin it.
 */
function fetchRelease(grant: ReleaseGrant, id: string): string {
  const out = `"$work/payload.tar.gz"`;
  const ca = grant.ca
    ? `cat > "$work/ca.pem" <<'STRATA_CA'
${grant.ca.trim()}
STRATA_CA
`
    : "";
  const [curlCa, wgetCa] = grant.ca
    ? [` --cacert "$work/ca.pem"`, ` --ca-certificate="$work/ca.pem"`]
    : ["", ""];
  return `${ca}printf 'header = "Authorization: Bearer %s"\\n' ${quote(grant.token)} > "$work/curlrc"
if command -v curl >/dev/null 2>&1; then
  curl -fsSL --retry 5 --retry-connrefused --retry-delay 2${curlCa} -K "$work/curlrc" -o ${out} ${quote(grant.url)} \\
    || finish "downloading release ${id} from ${grant.url}: curl exited with $?"
elif command -v wget >/dev/null 2>&1; then
  wget -q --tries=5${wgetCa} --header=${quote(`Authorization: Bearer ${grant.token}`)} -O ${out} ${quote(grant.url)} \\
    || finish "downloading release ${id} from ${grant.url}: wget exited with $?"
else
  finish "downloading release ${id}: the image has neither curl nor wget"
fi
rm -f "$work/curlrc"
got="sha256:$(sha256sum ${out} | cut -d ' ' -f 1)"
[ "$got" = ${quote(id)} ] || finish "checksum mismatch for release ${id} (got $got)"`;
}
