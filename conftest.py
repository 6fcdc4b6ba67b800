# Root conftest: shared fixtures are plugins so every test folder can use them.
pytest_plugins = ["tests.db_fixtures", "tests.sim_fixtures"]
