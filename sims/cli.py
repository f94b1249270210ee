"""qz command line."""
def main(argv=None):
    raise SystemExit("qz: not yet implemented")
