"""The casework's application layer: its use cases (`casework`) over a repository interface (`ports`), and
the decisions taken on a locked complaint (`decisions`). Imports the pure packages, never an adapter."""
