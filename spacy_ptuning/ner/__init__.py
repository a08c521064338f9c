"""Named-entity recognition pieces: BIO tag sets, constrained decoding, seqeval scoring."""
