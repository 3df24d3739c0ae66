from reference.twin import configure_determinism


def pytest_configure(config):
    configure_determinism()

