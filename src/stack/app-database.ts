/** The app's business database on the stack's PostgreSQL (docker/create-app-database.sql creates it for compose). */
export const APP_DATABASE = 'jobs';
