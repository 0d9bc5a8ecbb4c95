#!/usr/bin/env bash
exec java -jar -Dspring.profiles.active=uat /app/app.jar
