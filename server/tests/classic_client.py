"""The classic grading client: one command per connection, write EOF, read everything.

Usage: classic_client.py PORT MESSAGE   (MESSAGE is sent as given; the reply goes to stdout)
Loopback only.
"""
import asyncio
import sys


async def main(port: int, message: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(message.encode())
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    sys.stdout.write(data.decode())


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
