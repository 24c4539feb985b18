for attempt in $(seq 60); do
  temporal operator namespace describe --address 127.0.0.1:17233 --namespace default >/dev/null 2>&1 && exit 0
  temporal operator namespace create --address 127.0.0.1:17233 --namespace default --retention 72h && exit 0
  sleep 2
done
exit 1

