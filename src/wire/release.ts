/** A built, stored artifact of one app version. `id` is `sha256:<hex>` of the tarball. */
export interface Release {
  id: string;
  app: string;
  version: string;
  size: number;
  file_count: number;
  created_at: string;
}

export const RELEASE_ID_PATTERN = /^sha256:[0-9a-f]{64}$/;
