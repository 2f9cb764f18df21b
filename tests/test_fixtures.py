"The service fixtures themselves: real servers that answer over the network."
import boto3, redis


def test_redis_server_answers_and_can_be_killed(fresh_redis_server):
    r = redis.Redis.from_url(fresh_redis_server.url, socket_timeout=1)
    assert r.ping()
    fresh_redis_server.kill()
    try:
        r.ping(); raise AssertionError("a killed server answered")
    except redis.ConnectionError: pass
    fresh_redis_server.start()
    assert redis.Redis.from_url(fresh_redis_server.url).ping()


def test_moto_is_a_real_http_s3(moto_server, s3_bucket):
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.put_object(Bucket=s3_bucket[5:], Key="k", Body=b"v")
    assert s3.get_object(Bucket=s3_bucket[5:], Key="k")["Body"].read() == b"v"
