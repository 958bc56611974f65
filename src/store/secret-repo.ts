/** An app's secret as stored: the value sealed (src/secrets/secret-box.ts), never in plaintext. */
export interface SecretRecord {
  app: string;
  key: string;
  /** `v1:` + base64 of nonce, tag and ciphertext. */
  sealed: string;
  /** Epoch ms of the last set. */
  updated_at: number;
}

/** Sealed secrets by app. Methods may run concurrently; each is one statement. */
export interface SecretRepo {
  /** Inserts or replaces the secret (app, key). */
  put(record: SecretRecord): Promise<void>;
  /** Removes it; false when there was none. */
  delete(app: string, key: string): Promise<boolean>;
  /** Every secret of the app, by key. */
  list(app: string): Promise<SecretRecord[]>;
  /** Removes every secret of the app (`strata app rm`); returns how many. */
  deleteApp(app: string): Promise<number>;
}
