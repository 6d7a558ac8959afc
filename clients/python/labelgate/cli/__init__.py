"""The `labelgate` command line (`labelgate.cli.main:main`): every `aws rekognition` Custom
Labels command against a labelgate gateway, plus `wait` and `serve`."""
