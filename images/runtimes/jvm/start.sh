#!/usr/bin/env bash
java -jar -Dspring.profiles.active=uat /app/app.jar
