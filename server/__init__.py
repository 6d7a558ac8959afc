"""labelgate gateway: the asyncio gRPC server."""
