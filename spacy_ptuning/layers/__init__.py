"""Small single-purpose pieces the architectures are assembled from."""
