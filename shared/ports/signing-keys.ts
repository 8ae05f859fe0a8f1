/** A public key that a report's sender signs with, as the sender publishes it (PEM). */
export interface PublishedKey {
  id: string;
  pem: string;
}

/** A read of the published keys: the list, or "unchanged since the version you hold". */
export type PublishedKeysRead = { status: 'fetched'; keys: PublishedKey[]; version?: string } | { status: 'not_modified' };

/**
 * Where a sender of signed reports (GitHub secret scanning) publishes its public keys. Throws
 * DependencyUnavailableError when the list cannot be read (down, slow, or not in its format).
 */
export interface PublishedKeySource {
  /** `version`: what the last read returned (an ETag), so an unchanged list costs nothing. */
  read(version?: string): Promise<PublishedKeysRead>;
}
