"""Framework-free retrievers: query -> legs -> fusion -> results."""
