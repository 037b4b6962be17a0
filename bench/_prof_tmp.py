import asyncio, time
import httpx
from pyinstrument import Profiler
from bench import dataset
from bench.run import database_url
from bench.workers_bench import writer_token
from app.core.config import Settings
from app.main import create_app

async def main():
    url = database_url("postgresql")
    token = await writer_token(url)
    settings = Settings(database_url=url, env="development", log_level="warning")
    app = create_app(settings)
    first = 10_000 + dataset.DISTRICTS
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x", headers={"Authorization": f"Bearer {token}"}) as c:
            p = Profiler(interval=0.0005)
            for rnd in range(3):
                if rnd == 2: p.start()
                t = time.perf_counter()
                for i in range(100):
                    body = {"criteria": [{"number": n, "met": (n + i + rnd) % 3 != 0} for n in range(1, 11)]}
                    r = await c.put(f"/api/v1/communes/{first + i * 37}/assessments/2026", json=body)
                    assert r.status_code in (200, 201), r.text
                print("round", rnd, (time.perf_counter() - t) * 10, "ms/put")
            p.stop()
            print(p.output_text(unicode=False, color=False, show_all=False)[:9000])
asyncio.run(main())
