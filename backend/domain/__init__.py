"""The pure domain of hexbank: money, accounts, transfers. Standard library only."""
